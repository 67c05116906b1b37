// Browser worker entry: assets are fetched from the page's origin.
import wasmUrl from 'v86/build/v86.wasm?url';
import { fetchAssetSource } from './asset-source.ts';
import { serveMachine } from './worker-main.ts';

serveMachine(self as unknown as Worker, (assetBase) => fetchAssetSource(assetBase, new URL(wasmUrl, self.location.href).href));
