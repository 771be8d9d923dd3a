// @trellis/client: the typed client of the Trellis API (see README.md).
export {
  createTrellisClient,
  type SessionUser,
  type Tokens,
  type TrellisClient,
  type TrellisClientOptions,
} from './client.ts';
export { pages, type Page } from './pages.ts';
export { TrellisProblem, unwrap, type FieldError, type PolicyReason } from './problem.ts';
export { TrellisRealtime, type RealtimeMessage, type RealtimeOptions } from './realtime.ts';
export type { components, operations, paths } from './schema.ts';
