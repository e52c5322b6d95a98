"""Hardware only: camera, barcode decoding, printer, serial scanner. No business rules."""
