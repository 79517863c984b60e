using RsMoe.Gateway.Pipeline;

namespace RsMoe.Gateway.Tests.Pipeline;

/// <summary>
/// The feature cache's key: Redis is shared by every gateway replica and outlives a deployment, so its format is a
/// contract — the same image from the same encoder always finds its entry, another encoder never does.
/// </summary>
public sealed class VisualFeaturesKeyTests
{
    [Fact]
    public void The_digest_is_the_sha256_of_the_image_bytes_in_lower_case_hex()
    {
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", VisualFeatures.Digest("abc"u8));
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", VisualFeatures.Digest([]));
    }

    [Fact]
    public void The_key_is_versioned_and_names_the_encoder_and_the_image()
    {
        string digest = VisualFeatures.Digest("abc"u8);
        Assert.Equal($"rsmoe:v1:features:resnet18-1a2b:{digest}", VisualFeatures.CacheKey("resnet18-1a2b", digest));
        // A swapped encoder (another identity) or one changed byte of the image is another entry.
        Assert.NotEqual(VisualFeatures.CacheKey("resnet18-1a2b", digest), VisualFeatures.CacheKey("resnet18-ffff", digest));
        Assert.NotEqual(VisualFeatures.CacheKey("resnet18-1a2b", digest), VisualFeatures.CacheKey("resnet18-1a2b", VisualFeatures.Digest("abd"u8)));
    }
}
