"""The optimizer's models at serving time (NumPy only) and the data scientists' API."""
