using System.Security.Cryptography;
using RsMoe.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>The paper-scale image encoder: EVA ViT-g/14 from an InstructBLIP checkpoint's <c>vision_model.*</c>, frozen.</summary>
public sealed class InstructBlipImageEncoder : IImageEncoder
{
    readonly EvaVisionModel _model;

    public string Identity { get; }
    public int TokenWidth => _model.Config.HiddenSize;
    public int ImageSize => _model.Config.ImageSize;

    public InstructBlipImageEncoder(string checkpointDirectory, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        _model = InstructBlipCheckpoint.LoadVision(checkpointDirectory, dtype);
        if (device is not null && device.type != DeviceType.CPU) _model.to(device);
        var weights = Directory.GetFiles(checkpointDirectory, "*.safetensors").Order().Select(f => new FileInfo(f)).Select(f => $"{f.Name}:{f.Length}");
        Identity = "instructblip-vision-" + Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
            File.ReadAllText(Path.Combine(checkpointDirectory, "config.json")) + string.Join(",", weights))))[..16].ToLowerInvariant();
    }

    public Tensor Encode(Tensor pixels)
    {
        using var noGrad = no_grad();
        var device = _model.parameters().First().device;
        return _model.call(pixels.to(device));
    }

    public void Dispose() => _model.Dispose();
}
