"""evcentral"""
