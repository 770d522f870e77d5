"""One widget per panel kind; widgets render ConsoleState and never fetch."""
