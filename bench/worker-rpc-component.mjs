// The component bench/worker-rpc.mjs calls: tiny methods, so what is measured is the runtime.
import { transfer } from '../packages/worker-runtime/dist/index.js';

export default function create() {
  return {
    ping(n) {
      return n + 1;
    },
    /** Receives a message body; answers its size. */
    take(message) {
      return message.body.byteLength;
    },
    /** Sends a fresh body of `size` bytes, moved or copied. */
    give(size, moved) {
      const body = new Uint8Array(size);
      body[size - 1] = 1;
      return moved ? transfer(body, [body.buffer]) : body;
    },
  };
}
