"""The command layer: one module per command (or group of commands), the rich tables and the terminal
voice. Each command parses its flags, calls the core and renders what it returns."""
