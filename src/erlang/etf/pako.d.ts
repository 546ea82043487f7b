// The one function of pako (2.1.0, a faithful port of zlib 1.2.x) that the encoder uses. Node's own
// zlib is Chromium's fork, whose deflate output differs from the zlib the BEAM links; pako's does not.
declare module 'pako' {
  export interface DeflateOptions {
    level?: -1 | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  }
  export function deflate(data: Uint8Array, options?: DeflateOptions): Uint8Array;
}
