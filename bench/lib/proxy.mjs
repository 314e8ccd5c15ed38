import { connect, createServer } from 'node:net';

/** A TCP proxy that counts the bytes each way. */
export async function countingProxy(targetPort) {
  const counts = { up: 0, down: 0 };
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) s.on('error', () => {});
    client.on('data', (chunk) => {
      counts.up += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      counts.down += chunk.length;
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    counts,
    reset: () => {
      counts.up = 0;
      counts.down = 0;
    },
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
