// The contract each piece of local infrastructure (kafka/, postgres/,
// ferretdb/, maildev/) fulfils; stack.ts drives them all the same way.
import type { Progress } from './log.ts';

export interface Port {
  port: number;
  /** The env var that changes it, named in "port taken" errors. */
  env: string;
  label?: string;
}

export interface Component {
  name: string;
  /** Set (e.g. "KAFKA_BROKERS=…") when the user runs this elsewhere: we then leave it alone. */
  external?: string | undefined;
  /** The env var that points us at an existing server instead, for error hints. */
  externalEnv?: string;
  ports: Port[];
  /** Substring of our daemon's command line, so a recycled pid is never taken for ours. */
  marker: string;
  readyTimeoutMs: number;
  stopTimeoutMs: number;
  isProvisioned(): boolean;
  provision(progress: Progress): Promise<void>;
  /** Spawns the daemon and returns its pid (readiness is awaited by the caller). */
  start(progress: Progress): Promise<number>;
  /** One quick readiness probe. */
  ready(): Promise<boolean>;
  /** A graceful stop of its own; the default is SIGTERM → SIGKILL. */
  stop?(pid: number): Promise<void>;
}
