"""
Learning from a stream with ``partial_fit``
===========================================

Chunks of rows arrive one by one and each is learned with ``partial_fit``; the error of
the parameters falls as samples accumulate. Any chunking of a stream gives the model of
one pass over it (see :doc:`/streaming`).
"""

from fastgd import demo

result = demo.streaming(size="small")
print(result)
