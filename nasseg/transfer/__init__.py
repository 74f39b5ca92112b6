"""Transfer of found architectures to pose estimation and depth prediction (paper Sect. 4.5)."""
