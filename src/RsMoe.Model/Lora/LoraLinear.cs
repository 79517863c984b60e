using TorchSharp;
using RsMoe.Model.Decoding;
using RsMoe.Model.Llm;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Lora;

/// <summary>
/// A linear layer (<c>weight</c>, optional <c>bias</c>, Hugging Face names) that can carry one LoRA adapter,
/// <c>lora_A</c> then <c>lora_B</c>, scaled by alpha / r. B starts at zero, so a fresh adapter changes nothing.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter? bias;
    Linear? lora_A;
    Linear? lora_B;
    Dropout? _loraDropout;
    double _scaling;
    Scalar? _scalingScalar;   // long-lived: see Scalars

    public long InFeatures { get; }
    public long OutFeatures { get; }
    public LoraSettings? Adapter { get; private set; }
    public bool IsMerged { get; private set; }

    public LoraLinear(long inFeatures, long outFeatures, bool hasBias = true) : base(nameof(LoraLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = nn.Parameter(empty(outFeatures, inFeatures));
        // The same initialisation as torch.nn.Linear.
        nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
        if (hasBias)
        {
            double bound = 1 / Math.Sqrt(inFeatures);
            bias = nn.Parameter(empty(outFeatures).uniform_(-bound, bound));
        }
        RegisterComponents();
    }

    /// <summary>
    /// The bank this layer reads per-row adapters from: stacked A [N, r, in], scaled B [N, out, r] and the same B
    /// transposed, [N, r, out], which the CPU decoder adds row by row without horizontal sums.
    /// </summary>
    internal (LoraBank Bank, Tensor A, Tensor B, Tensor BT)? Bank { get; private set; }

    internal void AttachBank(LoraBank bank, Tensor a, Tensor b, Tensor bt)
    {
        if (lora_A is not null) throw new InvalidOperationException("a layer with its own adapter cannot read a bank");
        Bank = (bank, a, b, bt);
    }

    internal void DetachBank() => Bank = null;

    /// <summary>
    /// The weight as the CPU decoder reads it when the model decodes with 8-bit weights (null: the weight itself).
    /// Merging or unmerging an adapter quantises it again, so it never lags the weight.
    /// </summary>
    public Q8Matrix? DecodeWeight { get; private set; }

    /// <summary>Quantises the weight for the CPU decoder; false when its rows are not whole Q8_0 blocks (it stays as it is).</summary>
    internal bool QuantizeForDecoding()
    {
        if (!Q8Matrix.CanQuantize(weight)) return false;
        var fresh = Q8Matrix.Quantize(weight);
        DecodeWeight?.Dispose();
        DecodeWeight = fresh;
        return true;
    }

    internal void DropDecodeWeight()
    {
        DecodeWeight?.Dispose();
        DecodeWeight = null;
    }

    protected override void Dispose(bool disposing)
    {
        DecodeWeight?.Dispose();
        DecodeWeight = null;
        base.Dispose(disposing);
    }

    public Parameter Weight => weight;
    public Parameter? Bias => bias;
    public Linear? LoraA => lora_A;
    public Linear? LoraB => lora_B;

    public override Tensor forward(Tensor x)
    {
        var y = Autocast.Linear(x, weight, bias);
        if (Bank is { } banked && banked.Bank.RowAdapters is { } rows) return AddBankedUpdate(y, x, banked.A, banked.B, rows);
        if (lora_A is null || lora_B is null || IsMerged) return y;
        using var scope = NewDisposeScope();
        var input = _loraDropout is not null && training ? _loraDropout.call(x) : x;
        // The adapter's rank-r products stay in the input's dtype even under bf16 autocast: they are too small for bf16
        // to pay for its casts (Stage II ran 67 samples/s with them in bf16, 85 without, 81 all in fp32).
        var update = DecodeLinear.Apply(DecodeLinear.Apply(input, lora_A.weight!, null), lora_B.weight!, null);
        return y.add_(update, _scalingScalar!).MoveToOuterDisposeScope();
    }

    /// <summary>y += B[row]·A[row]·x per row of a [batch, seq, in] input, in fp32 (two batched matrix products).</summary>
    static Tensor AddBankedUpdate(Tensor y, Tensor x, Tensor a, Tensor b, Tensor rows)
    {
        if (x.dim() != 3 || x.shape[0] != rows.shape[0])
            throw new ArgumentException($"a banked layer needs [batch, seq, in] input with one adapter per row; got [{string.Join(", ", x.shape)}] for {rows.shape[0]} rows");
        using var scope = NewDisposeScope();
        var down = x.to_type(ScalarType.Float32).matmul(a.index_select(0, rows).transpose(1, 2));
        var update = down.matmul(b.index_select(0, rows).transpose(1, 2));
        return y.add_(update.to_type(y.dtype), Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>Adds a fresh adapter: A like PEFT's default (Kaiming uniform), B zero.</summary>
    public void AttachAdapter(LoraSettings settings)
    {
        if (lora_A is not null) throw new InvalidOperationException("this layer already has an adapter");
        if (settings.R <= 0) throw new ArgumentOutOfRangeException(nameof(settings), "LoRA rank must be positive");
        var device = weight.device;
        var dtype = weight.dtype;
        lora_A = nn.Linear(InFeatures, settings.R, hasBias: false, device: device, dtype: dtype);
        lora_B = nn.Linear(settings.R, OutFeatures, hasBias: false, device: device, dtype: dtype);
        using (no_grad())
        {
            nn.init.kaiming_uniform_(lora_A.weight!, Math.Sqrt(5));
            lora_B.weight!.zero_();
        }
        register_module(nameof(lora_A), lora_A);
        register_module(nameof(lora_B), lora_B);
        _loraDropout = settings.LoraDropout > 0 ? nn.Dropout(settings.LoraDropout) : null;
        _scaling = settings.Scaling;
        _scalingScalar = _scaling;
        Adapter = settings;
    }

    /// <summary>Folds B·A·scale into the base weight so inference runs at plain-linear cost.</summary>
    public void Merge()
    {
        if (lora_A is null || lora_B is null || IsMerged) return;
        using var scope = NewDisposeScope();
        using (no_grad()) weight.add_(Delta(), Scalars.One);
        IsMerged = true;
        if (DecodeWeight is not null) QuantizeForDecoding();
    }

    /// <summary>Undoes <see cref="Merge"/>, restoring the base weight.</summary>
    public void Unmerge()
    {
        if (lora_A is null || lora_B is null || !IsMerged) return;
        using var scope = NewDisposeScope();
        using (no_grad()) weight.add_(Delta(), Scalars.MinusOne);
        IsMerged = false;
        if (DecodeWeight is not null) QuantizeForDecoding();
    }

    Tensor Delta() => lora_B!.weight!.to_type(ScalarType.Float32)
        .matmul(lora_A!.weight!.to_type(ScalarType.Float32)).mul_(_scaling).to_type(weight.dtype);
}
