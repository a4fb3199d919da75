"""evsim"""
