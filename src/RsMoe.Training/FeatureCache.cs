using System.Security.Cryptography;
using RsMoe.Data.Images;
using RsMoe.Model.Vision;
using static TorchSharp.torch;

namespace RsMoe.Training;

/// <summary>
/// Frozen image-encoder outputs, computed once and kept on disk as fp16, keyed by the image's content (SHA-256)
/// and the encoder's identity, so epochs after the first never run the encoder and a changed encoder never
/// reads stale features.
/// </summary>
public sealed class FeatureCache
{
    readonly IImageEncoder _encoder;
    readonly ImagePreprocessing _preprocessing;
    readonly string _directory;
    public int Hits { get; private set; }
    public int Misses { get; private set; }

    public FeatureCache(string directory, IImageEncoder encoder, ImagePreprocessing? preprocessing = null)
    {
        _encoder = encoder;
        _preprocessing = preprocessing ?? ImagePreprocessing.ResNet18Cntk;
        _directory = Path.Combine(directory, encoder.Identity);
        Directory.CreateDirectory(_directory);
    }

    public static string ContentKey(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    /// <summary>Visual tokens [N, width] (fp32) of an image file.</summary>
    public Tensor Get(string imagePath) => GetTurned(imagePath, 0);

    /// <summary>
    /// Visual tokens of an image turned by <paramref name="turn"/> quarter turns (counter-clockwise), mirrored left to
    /// right after the turn when <paramref name="turn"/> is 4–7: the eight orientations of the square. Turn 0 is the
    /// image as stored, keyed by its content alone; the others by the content and the turn.
    /// </summary>
    public Tensor GetTurned(string imagePath, int turn)
    {
        if (turn is < 0 or > 7) throw new ArgumentOutOfRangeException(nameof(turn), turn, "a turn is 0–7");
        byte[] bytes = File.ReadAllBytes(imagePath);
        string key = turn == 0 ? ContentKey(bytes) : ContentKey(System.Text.Encoding.UTF8.GetBytes($"turn{turn}:" + ContentKey(bytes)));
        return Cached(key, () =>
        {
            var pixels = ImageDecoder.Preprocess(bytes, _preprocessing);
            var image = tensor(pixels.Data, [1, 3, pixels.Height, pixels.Width]);
            return _encoder.Encode(turn == 0 ? image : Turn(image, turn));
        });
    }

    /// <summary>[.., H, W] pixels turned <paramref name="turn"/> quarter turns counter-clockwise, then mirrored left to right for 4–7.</summary>
    public static Tensor Turn(Tensor pixels, int turn)
    {
        int h = (int)pixels.dim() - 2, w = h + 1;
        var turned = rot90(pixels, turn % 4, (h, w));
        return turn >= 4 ? turned.flip(w) : turned;
    }

    /// <summary>
    /// Visual tokens of a k×k mosaic of k² images (row by row; 4 or 16 images), each preprocessed and then shrunk k
    /// times by k×k averaging: the same kind of ground seen from k times as high, at the encoder's input size. Keyed by
    /// the contents in order.
    /// </summary>
    public Tensor GetMosaic(IReadOnlyList<string> imagePaths)
    {
        int side = MosaicSide(imagePaths.Count);
        var contents = imagePaths.Select(File.ReadAllBytes).ToArray();
        string key = ContentKey(System.Text.Encoding.UTF8.GetBytes($"mosaic{side}x{side}:" + string.Join(',', contents.Select(ContentKey))));
        return Cached(key, () => _encoder.Encode(Mosaic(contents.Select(b => ImageDecoder.Preprocess(b, _preprocessing)).ToArray())));
    }

    /// <summary>[1, 3, H, W]: k² preprocessed images of H × W, each shrunk k times by averaging and laid out k × k.</summary>
    public static Tensor Mosaic(IReadOnlyList<PixelTensor> tiles)
    {
        int side = MosaicSide(tiles.Count);
        using var scope = NewDisposeScope();
        var small = nn.functional.avg_pool2d(stack(tiles.Select(p => tensor(p.Data, [3, p.Height, p.Width])).ToArray(), 0), side);
        var rows = Enumerable.Range(0, side).Select(r => cat(Enumerable.Range(0, side).Select(c => small[r * side + c]).ToArray(), 2)).ToArray();
        return cat(rows, 1).unsqueeze(0).MoveToOuterDisposeScope();
    }

    static int MosaicSide(int images) => images switch
    {
        4 => 2,
        16 => 4,
        _ => throw new ArgumentException($"a mosaic is made of 4 (2×2) or 16 (4×4) images, not {images}", nameof(images)),
    };

    /// <summary>The stored tokens under <paramref name="key"/>, or <paramref name="encode"/>'s [1, N, width] stored first.</summary>
    Tensor Cached(string key, Func<Tensor> encode)
    {
        string file = Path.Combine(_directory, key + ".f16");
        long length = File.Exists(file) ? new FileInfo(file).Length : 0;
        if (length > 0 && length % (_encoder.TokenWidth * 2) == 0)
        {
            Hits++;
            using var stored = empty([length / (_encoder.TokenWidth * 2), _encoder.TokenWidth], ScalarType.Float16);
            using (var stream = File.OpenRead(file)) stream.ReadExactly(stored.bytes);
            return stored.to_type(ScalarType.Float32);
        }
        Misses++;
        using var scope = NewDisposeScope();
        var tokens = encode().squeeze(0);
        using (var half = tokens.to_type(ScalarType.Float16).contiguous())
        {
            string temp = file + ".tmp" + Environment.CurrentManagedThreadId;
            File.WriteAllBytes(temp, half.bytes.ToArray());
            File.Move(temp, file, overwrite: true);
        }
        // What training reads must equal what a later epoch reads from disk: round through fp16 now.
        return tokens.to_type(ScalarType.Float16).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}
