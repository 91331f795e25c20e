"""The dispatcher console: the pages, forms and live board (the face on top of amk)."""
