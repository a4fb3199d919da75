"""evmonitor"""
