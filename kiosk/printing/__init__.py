"""Printing: receipt layouts (tickets, certificates) → 1-bit raster images → ESC/POS bytes; the print-job worker.

Vietnamese never goes to the printer as text: printer code pages cannot compose its tone marks. Every line with
letters is drawn with Pillow at the printer's full width and sent as a raster image (`GS v 0`). Only plain ASCII that
benefits from it (the huge ticket number) uses the printer's own font. See docs/printing.md.
"""
