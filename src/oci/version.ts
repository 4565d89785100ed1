// The OCI Runtime Specification versions skiff implements.

/** The spec version skiff implements and writes (`skiff spec`, state, features ociVersionMax). */
export const OCI_VERSION = '1.3.0';

/** The oldest spec version skiff reads; every 1.x config is accepted. */
export const OCI_VERSION_MIN = '1.0.0';
