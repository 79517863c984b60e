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
    public Tensor Get(string imagePath)
    {
        byte[] bytes = File.ReadAllBytes(imagePath);
        string file = Path.Combine(_directory, ContentKey(bytes) + ".f16");
        if (File.Exists(file) && new FileInfo(file).Length % (_encoder.TokenWidth * 2) == 0 && new FileInfo(file).Length > 0)
        {
            Hits++;
            var stored = empty([new FileInfo(file).Length / (_encoder.TokenWidth * 2), _encoder.TokenWidth], ScalarType.Float16);
            using (var stream = File.OpenRead(file)) stream.ReadExactly(stored.bytes);
            var result = stored.to_type(ScalarType.Float32);
            stored.Dispose();
            return result;
        }
        Misses++;
        var pixels = ImageDecoder.Preprocess(bytes, _preprocessing);
        using var scope = NewDisposeScope();
        var tokens = _encoder.Encode(tensor(pixels.Data, [1, 3, pixels.Height, pixels.Width])).squeeze(0);
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
