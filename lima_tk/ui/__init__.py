"""Everything that imports tkinter lives here; it only calls the logic in lima_tk."""
