import type { IHeaders } from 'kafkajs';

/** A Kafka header's (first) value as text, as the consumers and the trace context read it. */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}
