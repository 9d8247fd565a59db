// Types of the `cluster-key-slot` package (it ships none): Redis Cluster's hash slot of a key.
declare module 'cluster-key-slot' {
  /** CRC16 (XMODEM) of the key's hash tag, or of the whole key without one, mod 16384. */
  function calculateSlot(key: string | Buffer): number;
  export default calculateSlot;
}
