using System.ComponentModel.DataAnnotations;
namespace RsMoe.Gateway.Security;

/// <summary>The section <c>Access</c>: who may call the gateway, and how often.</summary>
public sealed class AccessOptions
{
    public const string Section = "Access";

    /// <summary>Refuse API calls without a valid key (the web page, /healthz and /metrics stay open).</summary>
    public bool RequireApiKey { get; set; }
    /// <summary>Keys are stored hashed: SHA-256 of the key, hex (<c>rsmoe keys new NAME</c> makes one).</summary>
    public List<ApiKey> ApiKeys { get; set; } = [];
    /// <summary>Sustained requests per minute per key (per client address when keys are not required); 0 (the default) for no limit.</summary>
    [Range(0, int.MaxValue)]
    public int RequestsPerMinute { get; set; }
    /// <summary>How many requests a key may make at once above the sustained rate.</summary>
    [Range(1, int.MaxValue)]
    public int Burst { get; set; } = 60;
}

public sealed class ApiKey
{
    public string Name { get; set; } = "";
    public string Sha256 { get; set; } = "";
    /// <summary>May use the pass-through routes to the internal services (an expert's Reload, for example).</summary>
    public bool Operator { get; set; }
    /// <summary>This key's own sustained rate, instead of <see cref="AccessOptions.RequestsPerMinute"/> (0: no limit).</summary>
    public int? RequestsPerMinute { get; set; }
    /// <summary>This key's own burst, instead of <see cref="AccessOptions.Burst"/>.</summary>
    public int? Burst { get; set; }
}
