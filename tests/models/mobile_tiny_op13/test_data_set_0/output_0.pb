
BoutputJ(Á™£@m™Ø?§H?Úe˜@´.—ÀZ@@¥¦?ë$ÀBRœÀyúJ@