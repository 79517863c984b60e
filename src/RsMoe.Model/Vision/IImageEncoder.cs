using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>A frozen image encoder: pixels as its preprocessing prepared them, to visual tokens [B, N, width].</summary>
public interface IImageEncoder : IDisposable
{
    /// <summary>A stable name for caches: the model and the weights' digest.</summary>
    string Identity { get; }
    int TokenWidth { get; }
    Tensor Encode(Tensor pixels);
}
