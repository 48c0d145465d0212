"""Models of what surrounds the Mac: each module states what it fakes and how it can fail."""
