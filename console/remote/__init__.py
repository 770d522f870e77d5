"""War room: one collector (`opsconsole serve`) serving its Session façade over HTTP to many viewers (`attach`)."""
