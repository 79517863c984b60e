using RsMoe.Data.Images;

namespace RsMoe.Data.Tests;

public sealed class ImageDecoderTests
{
    [Theory]
    [InlineData("ucm/1.tif", "tiff", 256, 256)]
    [InlineData("sydney/1.tif", "tiff", 500, 500)]      // PackBits-compressed
    [InlineData("rsicd/00001.jpg", "jpeg", 224, 224)]
    public void DecodesTheRealFilesToRgb(string file, string format, int width, int height)
    {
        byte[] bytes = File.ReadAllBytes(SharedData.Path("images", file));
        Assert.Equal(format, ImageDecoder.SniffFormat(bytes));
        var (rgb, w, h) = ImageDecoder.DecodeRgb(bytes);
        Assert.Equal((width, height), (w, h));
        Assert.Equal(width * height * 3, rgb.Length);
        Assert.True(rgb.Distinct().Count() > 50, "a real photo has many distinct values");
    }

    [Fact]
    public void PreprocessesAsTheEncoderAsks()
    {
        byte[] bytes = File.ReadAllBytes(SharedData.Path("images", "sydney", "1.tif"));
        var clip = ImageDecoder.Preprocess(bytes, ImagePreprocessing.InstructBlip);
        Assert.Equal((3, 224, 224), (clip.Channels, clip.Height, clip.Width));
        Assert.InRange(clip.Data.Average(), -2.0, 2.0);
        var imagenet = ImageDecoder.Preprocess(bytes, ImagePreprocessing.ImageNet);
        Assert.Equal((3, 224, 224), (imagenet.Channels, imagenet.Height, imagenet.Width));

        // Normalisation is (x/255 - mean)/std per channel: a white PNG gives exactly that.
        var white = Enumerable.Repeat((byte)255, 8 * 8 * 3).ToArray();
        using var image = NetVips.Image.NewFromMemory(white, 8, 8, 3, NetVips.Enums.BandFormat.Uchar);
        var pixels = ImageDecoder.Preprocess(image.PngsaveBuffer(), ImagePreprocessing.ImageNet with { Width = 4, Height = 4, ShortestEdge = 4 });
        Assert.Equal((1 - 0.485f) / 0.229f, pixels.Data[0], 3);
        Assert.Equal((1 - 0.406f) / 0.225f, pixels.Data[2 * 16], 3);
    }

    [Fact]
    public void GreyAndAlphaImagesBecomeThreeBandRgb()
    {
        using var grey = NetVips.Image.NewFromMemory(Enumerable.Repeat((byte)100, 16).ToArray(), 4, 4, 1, NetVips.Enums.BandFormat.Uchar);
        var (rgb, _, _) = ImageDecoder.DecodeRgb(grey.PngsaveBuffer());
        Assert.Equal(48, rgb.Length);
        Assert.All(rgb, v => Assert.Equal(100, v));
        using var rgba = NetVips.Image.NewFromMemory(Enumerable.Repeat((byte)0, 64).ToArray(), 4, 4, 4, NetVips.Enums.BandFormat.Uchar);
        var (flattened, _, _) = ImageDecoder.DecodeRgb(rgba.PngsaveBuffer());
        Assert.Equal(48, flattened.Length);
    }

    [Fact]
    public void BadInputIsRefusedWithAReasonBeforeDecoding()
    {
        Assert.Equal(ImageProblem.Empty, Assert.Throws<ImageRejectedException>(() => ImageDecoder.DecodeRgb([])).Problem);
        Assert.Equal(ImageProblem.UnknownFormat, Assert.Throws<ImageRejectedException>(() => ImageDecoder.DecodeRgb("hello, not an image"u8.ToArray())).Problem);

        byte[] jpeg = File.ReadAllBytes(SharedData.Path("images", "rsicd", "00001.jpg"));
        var truncated = Assert.Throws<ImageRejectedException>(() => ImageDecoder.DecodeRgb(jpeg[..(jpeg.Length / 3)]));
        Assert.Equal(ImageProblem.Corrupt, truncated.Problem);

        Assert.Equal(ImageProblem.TooLarge, Assert.Throws<ImageRejectedException>(() => ImageDecoder.DecodeRgb(jpeg, new ImageLimits { MaxBytes = 100 })).Problem);

        // A PNG header claiming 100000 × 100000 pixels is refused from its header alone.
        var bomb = PngHeaderClaiming(100_000, 100_000);
        var refused = Assert.Throws<ImageRejectedException>(() => ImageDecoder.DecodeRgb(bomb));
        Assert.Contains(refused.Problem, new[] { ImageProblem.TooManyPixels, ImageProblem.Corrupt });
        Assert.Equal(ImageProblem.TooManyPixels, Assert.Throws<ImageRejectedException>(() => ImageDecoder.DecodeRgb(jpeg, new ImageLimits { MaxPixels = 1000 })).Problem);
    }

    static byte[] PngHeaderClaiming(int width, int height)
    {
        using var small = NetVips.Image.NewFromMemory(new byte[3 * 4], 2, 2, 3, NetVips.Enums.BandFormat.Uchar);
        var png = small.PngsaveBuffer();
        // IHDR's width and height sit at bytes 16..23; the CRC is left stale, as a crafted file would have it.
        BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(width)).CopyTo(png, 16);
        BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(height)).CopyTo(png, 20);
        return png;
    }
}
