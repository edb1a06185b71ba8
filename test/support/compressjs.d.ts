declare module 'compressjs' {
  const compressjs: {
    Bzip2: { compressFile(input: Uint8Array, output?: undefined, blockSizeMultiplier?: number): ArrayLike<number> };
  };
  export default compressjs;
}
