//! Saving and loading image archives (SaveImages, LoadImages).
