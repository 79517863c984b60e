using RsMoe.Model.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>
/// One identity residual block of ResNet, trainable: conv1 (3 × 3) → ReLU → conv2 (3 × 3) → + input → ReLU. Each
/// convolution carries its batch norm folded in (weight × γ/√(σ² + ε), bias β − μγ/√(σ² + ε)), so tuning moves the
/// block's effective weights while the statistics it was trained with stay as they are.
/// </summary>
public sealed class ResNetBlock : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv1;
    readonly Conv2d conv2;

    public ResNetBlock(int channels) : base(nameof(ResNetBlock))
    {
        conv1 = nn.Conv2d(channels, channels, 3, padding: 1);
        conv2 = nn.Conv2d(channels, channels, 3, padding: 1);
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] → [B, C, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var hidden = nn.functional.relu(conv1.forward(x));
        return nn.functional.relu(conv2.forward(hidden) + x).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The identity block whose output is <paramref name="output"/> in an ONNX graph (Relu ← Add(BatchNorm ← Conv ← Relu ←
    /// BatchNorm ← Conv ← x, x)), with its batch norms folded into its convolutions. Fails on any other shape of graph.
    /// </summary>
    public static ResNetBlock FromOnnx(string onnxPath, string output)
    {
        var nodes = OnnxInitializerReader.ReadNodes(onnxPath);
        var producer = nodes.SelectMany(n => n.Outputs.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n, StringComparer.Ordinal);
        OnnxNode Producer(string value, string op) =>
            producer.TryGetValue(value, out var node) && node.OpType == op ? node
                : throw new InvalidDataException($"{onnxPath}: '{value}' is not the output of a {op} node, so it does not end an identity residual block");
        var add = Producer(Producer(output, "Relu").Inputs[0], "Add");
        var branch = add.Inputs.FirstOrDefault(i => producer.TryGetValue(i, out var n) && n.OpType == "BatchNormalization")
            ?? throw new InvalidDataException($"{onnxPath}: the residual sum before '{output}' has no batch-normalised branch");
        string skip = add.Inputs.Single(i => i != branch);
        var norm2 = Producer(branch, "BatchNormalization");
        var conv2 = Producer(norm2.Inputs[0], "Conv");
        var norm1 = Producer(Producer(conv2.Inputs[0], "Relu").Inputs[0], "BatchNormalization");
        var conv1 = Producer(norm1.Inputs[0], "Conv");
        if (conv1.Inputs[0] != skip) throw new InvalidDataException($"{onnxPath}: the block before '{output}' is not an identity block (its skip is not its input)");

        var weights = OnnxInitializerReader.ReadInitializers(onnxPath).ToDictionary(i => i.Name, StringComparer.Ordinal);
        Tensor Weight(string name) => OnnxInitializerReader.ToTensor(weights[name], onnxPath);
        using var scope = NewDisposeScope();
        var (w1, b1) = Fold(conv1, norm1, Weight);
        var (w2, b2) = Fold(conv2, norm2, Weight);
        var block = new ResNetBlock((int)w1.shape[0]);
        block.Load(new Dictionary<string, Tensor> { ["conv1.weight"] = w1, ["conv1.bias"] = b1, ["conv2.weight"] = w2, ["conv2.bias"] = b2 });
        return block;
    }

    static (Tensor Weight, Tensor Bias) Fold(OnnxNode conv, OnnxNode norm, Func<string, Tensor> weight)
    {
        var kernel = weight(conv.Inputs[1]);
        if (kernel.shape[2] != 3 || kernel.shape[3] != 3 || conv.Ints("strides", [1, 1]).Any(s => s != 1) || conv.Int("group", 1) != 1)
            throw new InvalidDataException($"a block convolution must be 3 × 3, stride 1, one group; got {string.Join("×", kernel.shape)}");
        var bias = conv.Inputs.Length > 2 && conv.Inputs[2].Length > 0 ? weight(conv.Inputs[2]) : zeros(kernel.shape[0]);
        var (gamma, beta, mean, variance) = (weight(norm.Inputs[1]), weight(norm.Inputs[2]), weight(norm.Inputs[3]), weight(norm.Inputs[4]));
        var scale = gamma / (variance + norm.Float("epsilon", 1e-5f)).sqrt();
        return (kernel * scale.view(-1, 1, 1, 1), beta + (bias - mean) * scale);
    }

    /// <summary>Copies checkpoint tensors (conv1.weight, conv1.bias, conv2.weight, conv2.bias) into the block, checking shapes.</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            if (!tensors.TryGetValue(name, out var value)) throw new InvalidDataException($"the block checkpoint has no '{name}'");
            if (!value.shape.SequenceEqual(parameter.shape))
                throw new InvalidDataException($"'{name}' is [{string.Join(", ", value.shape)}] in the checkpoint, the block wants [{string.Join(", ", parameter.shape)}]");
            parameter.copy_(value);
        }
    }
}
