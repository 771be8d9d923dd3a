// The drills' stand-in for what sits in front of the gateway replicas in a deployment (a Kubernetes
// Service, a cloud load balancer): a TCP balancer that sends each new connection to the next gateway
// whose readiness answered 200 at its last check (every 250 ms), and to the one after when a
// connection is refused. It does not look inside connections: a client's keep-alive connection stays
// on its gateway until that gateway closes it (a draining one answers `Connection: close`).
import { connect, createServer, type Socket } from 'node:net';

export interface Balancer {
  url: string;
  close: () => Promise<void>;
}

export async function startBalancer(targets: string[]): Promise<Balancer> {
  const ports = targets.map((url) => Number(new URL(url).port));
  const ready = new Map(ports.map((port) => [port, true]));
  let next = 0;
  const check = async () => {
    await Promise.all(
      targets.map(async (url, i) => {
        const ok = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(500) })
          .then(async (res) => {
            await res.body?.cancel();
            return res.status === 200;
          })
          .catch(() => false);
        ready.set(ports[i] ?? 0, ok);
      }),
    );
  };
  const timer = setInterval(() => void check(), 250);
  const sockets = new Set<Socket>();

  const route = (client: Socket) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.pause();
    const start = next++;
    const order = ports.map((_, i) => ports[(start + i) % ports.length] ?? 0);
    const candidates = [...order.filter((p) => ready.get(p)), ...order.filter((p) => !ready.get(p))];
    const attempt = (i: number) => {
      const port = candidates[i];
      if (port === undefined) {
        client.destroy();
        return;
      }
      const upstream = connect({ host: '127.0.0.1', port });
      let connected = false;
      upstream.once('error', () => {
        if (!connected) attempt(i + 1);
      });
      upstream.once('connect', () => {
        connected = true;
        sockets.add(upstream);
        upstream.once('close', () => sockets.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  };

  const server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
