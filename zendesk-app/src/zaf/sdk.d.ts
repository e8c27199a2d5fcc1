/** The parts of the ZAF SDK (zendesk_app_framework_sdk, plain CommonJS without types) Steward uses. */
declare module "zendesk_app_framework_sdk" {
  export interface ZafRequestOptions {
    url: string;
    type?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
    contentType?: string;
    data?: string;
  }
  export interface ZafSdkClient {
    get(paths: string | string[]): Promise<Record<string, unknown> & { errors?: Record<string, { name: string; message: string }> }>;
    invoke(name: string, ...args: unknown[]): Promise<unknown>;
    on(event: string, handler: (data: unknown) => void): void;
    request(options: ZafRequestOptions): Promise<unknown>;
  }
  const ZAFClient: { init(callback?: (context: unknown) => void): ZafSdkClient | false };
  export default ZAFClient;
}
