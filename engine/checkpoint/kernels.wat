;; The checkpoint's heavy loops, hand-written so they run at memory speed.
;; They work inside v86's own WebAssembly memory (imported), where guest RAM
;; lives, next to the shadow copies the engine allocates there.
;; Build: `npm run kernels` (wabt) → kernels.wasm.ts. Reference versions in
;; JavaScript: kernels-js.ts; test/unit/kernels.test.ts keeps them equal.
(module
  (import "env" "memory" (memory 1))

  ;; Compares `pages` 4 KiB pages at `cur` with their shadow copies at `shadow`.
  ;; Each page that differs: its index goes to the u32 list at `list`, its
  ;; contents to `out` (packed, in list order) and to the shadow.
  ;; Returns how many pages differed.
  (func (export "diff_pages") (param $cur i32) (param $shadow i32) (param $pages i32)
                              (param $list i32) (param $out i32) (result i32)
    (local $page i32) (local $count i32)
    (block $done
      (loop $next_page
        (br_if $done (i32.ge_u (local.get $page) (local.get $pages)))
        (if (call $differs (local.get $cur) (local.get $shadow) (local.get $page))
          (then
            (call $take (local.get $cur) (local.get $shadow) (local.get $page) (local.get $list) (local.get $out) (local.get $count))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))))
        (local.set $page (i32.add (local.get $page) (i32.const 1)))
        (br $next_page)))
    (local.get $count))

  ;; diff_pages for the pages whose byte in the map at `marks` is non-zero
  ;; (write tracking: no other page was written). The map has one byte per page,
  ;; padded to a multiple of 16; it is all zero again afterwards.
  (func (export "diff_marked") (param $cur i32) (param $shadow i32) (param $pages i32)
                               (param $marks i32) (param $list i32) (param $out i32) (result i32)
    (local $chunk i32) (local $end i32) (local $page i32) (local $last i32) (local $count i32)
    (local.set $chunk (local.get $marks))
    (local.set $end (i32.add (local.get $marks) (local.get $pages)))
    (block $done
      (loop $next_chunk
        (br_if $done (i32.ge_u (local.get $chunk) (local.get $end)))
        ;; Sixteen pages at a time: most chunks are all zero.
        (if (v128.any_true (v128.load (local.get $chunk)))
          (then
            (local.set $page (i32.sub (local.get $chunk) (local.get $marks)))
            (local.set $last (i32.add (local.get $page) (i32.const 16)))
            (if (i32.gt_u (local.get $last) (local.get $pages)) (then (local.set $last (local.get $pages))))
            (block $chunk_done
              (loop $next_page
                (br_if $chunk_done (i32.ge_u (local.get $page) (local.get $last)))
                ;; Only a marked page is compared (i32.and would compare all sixteen).
                (if (i32.load8_u (i32.add (local.get $marks) (local.get $page)))
                  (then
                    (if (call $differs (local.get $cur) (local.get $shadow) (local.get $page))
                      (then
                        (call $take (local.get $cur) (local.get $shadow) (local.get $page) (local.get $list) (local.get $out) (local.get $count))
                        (local.set $count (i32.add (local.get $count) (i32.const 1)))))))
                (local.set $page (i32.add (local.get $page) (i32.const 1)))
                (br $next_page)))
            (v128.store (local.get $chunk) (v128.const i64x2 0 0))))
        (local.set $chunk (i32.add (local.get $chunk) (i32.const 16)))
        (br $next_chunk)))
    (local.get $count))

  ;; 1 if page `page` at `cur` differs from its shadow copy, else 0.
  (func $differs (param $cur i32) (param $shadow i32) (param $page i32) (result i32)
    (local $a i32) (local $b i32) (local $end i32)
    (local.set $a (i32.add (local.get $cur) (i32.shl (local.get $page) (i32.const 12))))
    (local.set $b (i32.add (local.get $shadow) (i32.shl (local.get $page) (i32.const 12))))
    (local.set $end (i32.add (local.get $a) (i32.const 4096)))
    ;; 64 bytes per step: four 16-byte lanes XORed together, one test.
    (loop $scan
      (if (v128.any_true
            (v128.or
              (v128.or
                (v128.xor (v128.load offset=0 (local.get $a)) (v128.load offset=0 (local.get $b)))
                (v128.xor (v128.load offset=16 (local.get $a)) (v128.load offset=16 (local.get $b))))
              (v128.or
                (v128.xor (v128.load offset=32 (local.get $a)) (v128.load offset=32 (local.get $b)))
                (v128.xor (v128.load offset=48 (local.get $a)) (v128.load offset=48 (local.get $b))))))
        (then (return (i32.const 1))))
      (local.set $a (i32.add (local.get $a) (i32.const 64)))
      (local.set $b (i32.add (local.get $b) (i32.const 64)))
      (br_if $scan (i32.lt_u (local.get $a) (local.get $end))))
    (i32.const 0))

  ;; A changed page: its index to entry `count` of the list, its contents to
  ;; slot `count` of `out` and to the shadow.
  (func $take (param $cur i32) (param $shadow i32) (param $page i32) (param $list i32) (param $out i32) (param $count i32)
    (local $a i32)
    (local.set $a (i32.add (local.get $cur) (i32.shl (local.get $page) (i32.const 12))))
    (i32.store (i32.add (local.get $list) (i32.shl (local.get $count) (i32.const 2))) (local.get $page))
    (memory.copy (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 12))) (local.get $a) (i32.const 4096))
    (memory.copy (i32.add (local.get $shadow) (i32.shl (local.get $page) (i32.const 12))) (local.get $a) (i32.const 4096)))

  ;; Checksum of `len` bytes at `ptr` (len a multiple of 16), continuing from the
  ;; four lane states at `state` and leaving them there: per 32-bit lane,
  ;; s = (s xor word) * 16777619 (FNV-1a's prime), so any single changed block
  ;; changes the result and regions can be summed one after another.
  (func (export "checksum") (param $ptr i32) (param $len i32) (param $state i32)
    (local $s v128) (local $end i32)
    (local.set $s (v128.load (local.get $state)))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $s
          (i32x4.mul
            (v128.xor (local.get $s) (v128.load (local.get $ptr)))
            (i32x4.splat (i32.const 16777619))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
        (br $step)))
    (v128.store (local.get $state) (local.get $s)))
)
