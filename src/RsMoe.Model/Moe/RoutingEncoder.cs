using RsMoe.Model.Checkpoints;
using RsMoe.Model.QFormer;
using RsMoe.Model.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Moe;

/// <summary>What the router gives every expert for one image and instruction.</summary>
public sealed record Routing(IReadOnlyList<string> Roles, IReadOnlyList<float[]> Prefixes, long PrefixLength, long HiddenSize, IReadOnlyList<double> Gate);

/// <summary>
/// The VLM encoder with the router on its own, as the VLM-encoder service hosts it: no language model is loaded.
/// Visual tokens and an instruction in; each expert's prefix (projected queries, then its soft prompt) and the gate out.
/// </summary>
public sealed class RoutingEncoder : IDisposable
{
    public RsMoeConfig Config { get; }
    public VlmEncoder Encoder { get; }
    public BertWordPieceTokenizer InstructionTokenizer { get; }
    public Device Device { get; }
    /// <summary>The checkpoint's digest, so operators can tell which weights serve.</summary>
    public string Version { get; }

    RoutingEncoder(RsMoeConfig config, VlmEncoder encoder, BertWordPieceTokenizer tokenizer, Device device, string version)
    {
        Config = config;
        Encoder = encoder;
        InstructionTokenizer = tokenizer;
        Device = device;
        Version = version;
    }

    public static RoutingEncoder Load(string modelDirectory, Device? device = null)
    {
        device ??= CPU;
        var config = ModelFolder.LoadConfig(modelDirectory);
        var encoder = ModelFolder.LoadVlmEncoder(modelDirectory, config);
        if (device.type != DeviceType.CPU) encoder.to(device);
        string version = "vlm-" + FileDigest.Short(ModelFolder.VlmEncoderPath(modelDirectory));
        return new RoutingEncoder(config, encoder, ModelFolder.LoadInstructionTokenizer(modelDirectory, config), device, version);
    }

    /// <summary>Checks visual tokens [1, N, width] against the Q-Former before any work: a clear message, never a shape error deep inside.</summary>
    public void ValidateVisualTokens(IReadOnlyList<long> shape)
    {
        if (shape.Count != 3 || shape[0] != 1 || shape[1] < 1 || shape[2] != Config.VisionHiddenSize)
            throw new ArgumentException($"visual tokens must be [1, N, {Config.VisionHiddenSize}], got [{string.Join(", ", shape)}]");
    }

    /// <param name="visualTokens">[1, N, vision_hidden] visual tokens, float32.</param>
    public Routing Route(float[] visualTokens, IReadOnlyList<long> shape, string instruction)
    {
        ValidateVisualTokens(shape);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = tensor(visualTokens, [.. shape], ScalarType.Float32, Device);
        var (ids, mask) = RsMoeModel.EncodeInstructions(InstructionTokenizer, Config.MaxInstructionTokens, [instruction], Device);
        using var output = Encoder.Forward(tokens, ids, mask);
        var gate = output.Routing.Gate()[0].to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        var prefixes = new List<float[]>();
        long length = 0, hidden = 0;
        for (int i = 0; i < Config.Router.NumExperts; i++)
        {
            var prefix = output.ExpertPrefix(0, i).to_type(ScalarType.Float32).cpu().contiguous();
            (length, hidden) = (prefix.shape[0], prefix.shape[1]);
            prefixes.Add(prefix.data<float>().ToArray());
        }
        return new Routing(Config.Router.ExpertRoles, prefixes, length, hidden, gate);
    }

    public void Dispose() => Encoder.Dispose();
}
