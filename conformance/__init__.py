"""The conformance engine: runs the book's examples and checks them against golden results."""
