"""evkafka"""
