// comlink ships this adapter's types as node-adapter.d.ts beside an .mjs file,
// which TypeScript does not pair up on its own.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  export { default } from 'comlink/dist/esm/node-adapter';
}
