"""evdriver"""
