"""The dispatcher console: the pages, forms and live board of AMK's dispatchers (the face on top)."""
