"""Exports of a run for outside tools: ``pcap`` (the frames' bytes and nanosecond pcap
files, pure ``struct``) and ``capture`` (which link ends record, and writing their files).

Both sit on top of the model: they read frames and the lab, they never change a run.
"""
