"""After the search (SPEC 6): aux-cell ablation, reward/mIoU correlation, full training."""
