"""Gates any strategy can use, evaluated on Observations (late, and only from devices that could report).

threshold.py   abort on failure share (IoT-jobs style) and group rollback policy (Azure Device Update style)
analysis.py    metric analysis runs: interval, count, failure and inconclusive limits (Argo Rollouts style)
judge.py       canary against control on continuous metrics: Mann-Whitney U, tolerance band, weighted score
sequential.py  a sequential probability ratio test on failures that is robust to devices not yet reported
"""
