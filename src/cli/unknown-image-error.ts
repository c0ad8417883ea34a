// The error for an image id on the command line that images.yaml cannot ingest.
/** An image id on the command line that images.yaml does not have as an ingestable image (exit 2). */
export class UnknownImageError extends Error {
  readonly code = 'BOOTSTATION_UNKNOWN_IMAGE';
}
