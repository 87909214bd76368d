/**
 * The engine's bounds on sends in flight, as deployed unless LOADNOTIFY_MAX_IN_FLIGHT and
 * LOADNOTIFY_PER_CHANNEL say otherwise: in all (a host may have as many connections), and to
 * one channel (what one dead receiver can hold).
 */
export const DEFAULT_MAX_IN_FLIGHT = 64;
export const DEFAULT_PER_CHANNEL = 4;
