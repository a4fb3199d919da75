"""evengine"""
