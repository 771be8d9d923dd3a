// Console progress for the stack manager: every long step says what it is
// doing and how long it has taken, so a slow first run never looks hung.

/** An expected failure (port taken, tool missing…): printed without a stack trace. */
export class UserError extends Error {}

const HEARTBEAT_MS = 10_000;

export function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)}s`;
}

export function say(message: string): void {
  console.log(message);
}

export function warn(message: string): void {
  console.error(`! ${message}`);
}

/** Reports a progress note from inside a step; the heartbeat shows the latest one. */
export type Progress = (note: string) => void;

/**
 * Runs `work` between a start line and a done line with the elapsed time,
 * printing a heartbeat with the latest progress note while it runs.
 */
export async function step<T>(label: string, work: (progress: Progress) => Promise<T>): Promise<T> {
  const started = performance.now();
  let note = '';
  say(`→ ${label}`);
  const heartbeat = setInterval(() => {
    say(`  … ${label}${note ? `: ${note}` : ''} (${seconds(started)})`);
  }, HEARTBEAT_MS);
  try {
    const result = await work((next) => {
      note = next;
    });
    say(`✓ ${label} (${seconds(started)})`);
    return result;
  } catch (error) {
    say(`✗ ${label} (${seconds(started)})`);
    throw error;
  } finally {
    clearInterval(heartbeat);
  }
}
