// Which booking statuses end a booking's story.

import { BookingStatus } from "./gen/cinema/common/v1/common_pb.js";

/**
 * A booking in one of these stays there unless the customer acts (a CONFIRMED
 * booking can still be cancelled). PENDING, AWAITING_PAYMENT and CANCELLING
 * are on their way to one of them.
 */
export const FINAL_STATUSES: ReadonlySet<BookingStatus> = new Set([
  BookingStatus.CONFIRMED,
  BookingStatus.REJECTED,
  BookingStatus.EXPIRED,
  BookingStatus.CANCELLED,
]);

export function isFinal(status: BookingStatus): boolean {
  return FINAL_STATUSES.has(status);
}

/** "CONFIRMED" for `BookingStatus.CONFIRMED`. */
export function statusName(status: BookingStatus): string {
  return BookingStatus[status] ?? String(status);
}
