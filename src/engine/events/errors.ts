// Errors of the event log's readers: a bad filter or time.

export type EventsErrorCode = 'EUSAGE';

export class EventsError extends Error {
  readonly domain = 'events' as const;
  constructor(
    readonly code: EventsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EventsError';
  }
}
