from lima_tk.cli import main

main()
