//! History and pruning (GetImageHistory, PruneImages, the image part of PruneSystem).
